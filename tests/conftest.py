import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
REALHTML = SHARED / "realhtml"
SEEDS = SHARED / "reference" / "seed-documents"


def require_shared(path: Path) -> Path:
    """../shared is beside every checkout in CI; a run without it says so loudly (not a silent pass)."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} not present (reference material lives in ../shared)")
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
