"""CSS selectors compiled once and matched against a one-pass index of the page.

libxml2's XPath is quick at tag-name tests but slow at the class and id tests that nearly every family selector
starts with: the translation of `.article__body` visits every element of the page and builds strings for each,
and a page's dozen selector lookups cost more than parsing it. So the page is walked once into a `PageIndex`
(elements by class token and by id, in document order), and each selector, parsed once by cssselect, is matched
from its right end: candidates from the index (or `iter(tag)`), then its ancestors upwards.

The results are those of the XPath that parsel and cssselect translate the same selector to, evaluated from
`scope` (`descendant-or-self::...`): the same elements, in document order, with parsel's `::text` and
`::attr(name)` pseudo-elements. What the matcher does not implement (functions, negation, sibling combinators,
groups) is evaluated as that compiled XPath; tests/test_select.py checks both against lxml on every page.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import cache

from cssselect import SelectorError, parse
from cssselect.parser import Attrib, Class, CombinedSelector, Element, FunctionalPseudoElement, Hash, Pseudo
from lxml import etree
from parsel.csstranslator import css2xpath

_Element = etree._Element
# Class tokens as XPath's normalize-space() splits them: on space, tab, CR and LF only (not on NBSP).
_TOKENS = re.compile(r"[^ \t\n\r]+").findall
_TEXT = etree.XPath("text()", smart_strings=False)


class PageIndex:
    """One pass over a tree (`root` and its descendants): `attributed` lists (element, class, id, position)
    of every element with a class or an id attribute, in document order, position being its rank among all
    elements, so that "inside this element" is a range of positions. Elements by class token and by id are
    looked up from it on first use, then kept."""

    __slots__ = ("_class_text", "_classes", "_ids", "_last", "_positions", "_scoped", "_spans", "attributed", "root")

    def __init__(self, root: _Element):
        self.root = root
        attributed = []
        pos = 0
        for pos, el in enumerate(root.iter(etree.Element)):
            get = el.get
            cls, ident = get("class"), get("id")
            if cls is None and ident is None:
                continue
            attributed.append((el, cls or "", ident or "", pos))
        self.attributed, self._last = attributed, pos
        self._positions: list[int] | None = None
        # Filled per class token on first use: a page asks for a few tokens, and splitting every class attribute
        # of the page into a dictionary of all of them cost more than the rest of the pass.
        self._classes: dict[str, list[tuple[int, _Element]]] = {}
        self._class_text: str | None = None
        self._ids: dict[str, list[tuple[int, _Element]]] = {}
        self._spans: dict[_Element, tuple[int, int]] = {root: (0, pos)}
        self._scoped: dict[_Element, list] = {root: attributed}

    def by_class(self, token: str) -> list[tuple[int, _Element]]:
        found = self._classes.get(token)
        if found is None:
            found = self._classes[token] = self._with_class(token)
        return found

    def _with_class(self, token: str) -> list[tuple[int, _Element]]:
        """The elements whose class attribute has `token`. The class attributes, joined by NULs (no attribute
        value holds one), are searched for the token as a substring in C; only the attributes it is found in
        are split into tokens. A hit's entry is the number of NULs before it, counted from the previous hit."""
        if not token or "\0" in token:
            return []
        text = self._class_text
        if text is None:
            text = self._class_text = "\0".join([cls for _, cls, _, _ in self.attributed])
        found = []
        entry = start = 0
        hit = text.find(token)
        while hit != -1:
            entry += text.count("\0", start, hit)
            el, cls, _, pos = self.attributed[entry]
            if token in _class_tokens(cls):
                found.append((pos, el))
            start = text.find("\0", hit)  # the end of this attribute: the next hit is in a later one
            if start == -1:
                break
            hit = text.find(token, start)
        return found

    def by_id(self, ident: str) -> list[tuple[int, _Element]]:
        found = self._ids.get(ident)
        if found is None:
            found = self._ids[ident] = [(pos, el) for el, _, i, pos in self.attributed if i == ident]
        return found

    def span(self, scope: _Element) -> tuple[int, int]:
        """The positions of `scope` and of its last descendant."""
        span = self._spans.get(scope)
        if span is None:
            first = next((pos for el, _, _, pos in self.attributed if el is scope), None)
            if first is None:  # counted in the document, then made relative to this index's root
                first = int(_POSITION(scope)) - int(_POSITION(self.root))
            span = self._spans[scope] = (first, first + int(_DESCENDANTS(scope)))
        return span

    def attributed_in(self, scope: _Element) -> list[tuple[_Element, str, str, int]]:
        """`attributed`, restricted to `scope` and its descendants."""
        found = self._scoped.get(scope)
        if found is None:
            if self._positions is None:
                self._positions = [item[3] for item in self.attributed]
            lo, hi = self.span(scope)
            found = self._scoped[scope] = self.attributed[bisect_left(self._positions, lo):
                                                          bisect_right(self._positions, hi)]
        return found

    def select(self, css: str, scope: _Element | None = None) -> list:
        """What `css` selects from `scope` (default: the whole tree): elements, or strings for `::text` and
        `::attr(name)`, in document order."""
        return compile_css(css)(self, self.root if scope is None else scope)

    def select_all(self, selectors, scope: _Element | None = None) -> set[_Element]:
        """Every element that one of `selectors` selects from `scope`."""
        scope = self.root if scope is None else scope
        simple, others = _plan(tuple(selectors))
        found: set[_Element] = set()
        if simple is not None:
            found.update(el for el, cls, ident, _ in self.attributed_in(scope) if simple(cls, ident))
        for matcher in others:
            found.update(matcher(self, scope))
        return found


def _class_tokens(cls: str) -> list[str]:
    """The tokens of a class attribute as XPath's normalize-space() splits them. str.split() splits a printable
    string on spaces only, as it does; it would split other strings on more characters (NBSP among them)."""
    return cls.split() if cls.isprintable() else _TOKENS(cls)


# Rank in document order (elements before it: its ancestors and XPath's preceding axis), and descendants.
_POSITION = etree.XPath("count(ancestor::*) + count(preceding::*)")
_DESCENDANTS = etree.XPath("count(descendant::*)")


def within(el: _Element, scope: _Element) -> bool:
    """`el` is `scope` or one of its descendants."""
    return el is scope or any(a is scope for a in el.iterancestors())


class _Compound:
    """One compound selector (`div#x.a.b[attr^=v]:last-child`) as a predicate on an element."""

    __slots__ = ("attrs", "classes", "first_child", "id", "last_child", "tag")

    def __init__(self):
        self.tag: str | None = None
        self.id: str | None = None
        self.classes: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.last_child = self.first_child = False

    def matches(self, el: _Element) -> bool:
        if self.tag is not None and el.tag != self.tag:
            return False
        if self.id is not None and el.get("id") != self.id:
            return False
        if self.classes:
            have = el.get("class")
            # A substring test first: most elements fail it, and it costs less than splitting the attribute.
            if not have or any(c not in have for c in self.classes):
                return False
            tokens = _TOKENS(have)
            if any(c not in tokens for c in self.classes):
                return False
        for name, op, value in self.attrs:
            have = el.get(name)
            if have is None or not _attr_ok(have, op, value):
                return False
        if self.last_child and next(el.itersiblings(etree.Element), None) is not None:
            return False
        return not (self.first_child and next(el.itersiblings(etree.Element, preceding=True), None) is not None)

    def on_strings(self) -> list[tuple[str, str, str]] | None:
        """For a compound of class and id tests only (`.tags`, `[class*=share]`, `[id^=sdaWeb_]`): its tests,
        (attribute, operator, value), to run on the (class, id) attribute values ("" when absent)."""
        if self.tag is not None or self.last_child or self.first_child:
            return None
        tests = [("class", "~=", c) for c in self.classes] + ([("id", "=", self.id)] if self.id is not None else [])
        tests += self.attrs
        if not tests or any(name not in ("class", "id") or op == "exists" or not value for name, op, value in tests):
            return None  # an empty value matches an empty attribute, which the ("" when absent) strings cannot tell
        return tests

    def answered_by_index(self) -> bool:
        """Whether every element `indexed` finds matches: the compound is an id alone or one class alone."""
        if self.tag is not None or self.attrs or self.first_child or self.last_child:
            return False
        return len(self.classes) == (0 if self.id is not None else 1)

    def indexed(self, index: PageIndex, scope: _Element) -> list[_Element] | None:
        """The elements inside `scope` that may match, in document order, from the index; None when the
        compound has neither an id nor a class nor only class/id attribute tests."""
        if self.id is not None:
            found = index.by_id(self.id)
        elif len(self.classes) == 1:
            found = index.by_class(self.classes[0])
        elif self.classes:
            found = min((index.by_class(c) for c in self.classes), key=len)
        elif self.attrs and all(name in ("class", "id") for name, _, _ in self.attrs):
            return [el for el, _, _, _ in index.attributed_in(scope)]
        else:
            return None
        if scope is index.root:
            return [el for _, el in found]
        lo, hi = index.span(scope)
        return [el for pos, el in found if lo <= pos <= hi]


def _attr_ok(have: str, op: str, value: str) -> bool:
    """An attribute test of a present attribute (`exists` is the presence alone)."""
    if op == "=":
        return have == value
    if op == "^=":
        return have.startswith(value)
    if op == "*=":
        return value in have
    if op == "$=":
        return have.endswith(value)
    if op == "~=":
        return value in have and value in _TOKENS(have)
    return True


def _compound(tree) -> _Compound | None:
    """The compound selector of a cssselect parse tree without combinators, or None if unsupported."""
    out = _Compound()
    while True:
        if isinstance(tree, Element):
            if tree.namespace:
                return None
            out.tag = tree.element.lower() if tree.element else None
            return out
        if isinstance(tree, Class):
            out.classes.append(tree.class_name)
        elif isinstance(tree, Hash):
            if out.id is not None and out.id != tree.id:
                return None
            out.id = tree.id
        elif isinstance(tree, Attrib):
            if tree.namespace or getattr(tree, "flag", None) or tree.operator not in ("exists", "=", "^=", "*=",
                                                                                        "$=", "~="):
                return None
            value = "" if tree.value is None else tree.value.value
            if tree.operator in ("^=", "*=", "$=", "~=") and not value.strip():
                return None  # cssselect translates these to "never matches"; leave that to its XPath
            out.attrs.append((tree.attrib.lower(), tree.operator, value))
        elif isinstance(tree, Pseudo) and tree.ident in ("last-child", "first-child"):
            setattr(out, tree.ident.replace("-", "_"), True)
        else:
            return None
        tree = tree.selector


class _Matcher:
    """A selector without groups: compounds left to right with the combinators between them (' ' or '>')."""

    def __init__(self, css: str, parts: list[_Compound], combinators: list[str], pseudo: str | None,
                 attr: str | None):
        self.css, self.parts, self.combinators, self.pseudo, self.attr = css, parts, combinators, pseudo, attr

    def _chain(self, el: _Element, i: int, scope: _Element) -> bool:
        """`el` matched parts[i]: whether parts[:i] match its ancestors, all inside `scope`."""
        if i == 0:
            return True
        if el is scope:
            return False
        part = self.parts[i - 1]
        if self.combinators[i - 1] == ">":
            parent = el.getparent()
            return parent is not None and part.matches(parent) and self._chain(parent, i - 1, scope)
        for anc in el.iterancestors():
            if part.matches(anc) and self._chain(anc, i - 1, scope):
                return True
            if anc is scope:
                break
        return False

    def _candidates(self, index: PageIndex, scope: _Element):
        """Elements that may match the last compound, and whether they all do."""
        last = self.parts[-1]
        found = last.indexed(index, scope)
        if found is not None:
            return found, last.answered_by_index()
        # A tag (`.article__tags a`): look only inside the elements an indexed compound to its left finds;
        # none of them on the page (a family's later alternatives, mostly), and there is nothing to look at.
        for part in self.parts[:-1]:
            anchors = part.indexed(index, scope)
            if anchors is None:
                continue
            outer: list[_Element] = []
            for a in anchors:  # document order: an anchor inside an earlier one adds nothing
                if not outer or not within(a, outer[-1]):
                    outer.append(a)
            tag = last.tag if last.tag is not None else etree.Element
            return [el for a in outer for el in a.iter(tag)], False
        return (scope.iter(last.tag) if last.tag is not None else scope.iter(etree.Element)), False

    def __call__(self, index: PageIndex, scope: _Element) -> list:
        n = len(self.parts) - 1
        candidates, matched = self._candidates(index, scope)
        if not matched:
            candidates = [el for el in candidates if self.parts[-1].matches(el)]
        found = [el for el in candidates if self._chain(el, n, scope)] if n else candidates
        if self.attr is not None:
            return [v for el in found if (v := el.get(self.attr)) is not None]
        if self.pseudo == "text":
            if len(found) > 1:  # nested matches interleave their text nodes: document order is XPath's to give
                return _xpath_matcher(self.css)(index, scope)
            return [t for el in found for t in _TEXT(el)]
        return found


class _XPathMatcher:
    """The fallback: the selector's XPath translation (parsel's, pseudo-elements included), compiled once."""

    def __init__(self, css: str):
        self.xpath = etree.XPath(css2xpath(css), smart_strings=False)

    def __call__(self, index: PageIndex, scope: _Element) -> list:
        return self.xpath(scope)


@cache
def _plan(selectors: tuple[str, ...]):
    """How `PageIndex.select_all` runs a list of selectors: those testing only class and id attributes as one
    predicate over the elements that have them, the others one by one. The predicate first searches a regular
    expression of the values of their (first) tests: most elements fail it. Then the selectors of one test are
    one regular expression per attribute (an alternation of the tests), those of several run test by test."""
    alone: dict[str, list[str]] = {"class": [], "id": []}
    needles: dict[str, list[str]] = {"class": [], "id": []}
    several, others = [], []
    for css in selectors:
        matcher = compile_css(css)
        tests = None
        if isinstance(matcher, _Matcher) and len(matcher.parts) == 1 and not matcher.pseudo and matcher.attr is None:
            tests = matcher.parts[0].on_strings()
        if tests is None:
            others.append(matcher)
            continue
        name, _, value = tests[0]
        needles[name].append(re.escape(value))
        pattern = _test_pattern(*tests[0]) if len(tests) == 1 else None
        if pattern is not None:
            alone[name].append(pattern)
        else:
            several.append(tests)
    if not (needles["class"] or needles["id"]):
        return None, others
    class_needle, id_needle = _alternation(needles["class"]), _alternation(needles["id"])
    class_alone, id_alone = _alternation(alone["class"]), _alternation(alone["id"])

    def simple(cls: str, ident: str) -> bool:
        if not ((class_needle and class_needle.search(cls)) or (id_needle and id_needle.search(ident))):
            return False
        if (class_alone and class_alone.search(cls)) or (id_alone and id_alone.search(ident)):
            return True
        return any(all(_attr_ok(cls if name == "class" else ident, op, value) for name, op, value in tests)
                   for tests in several)

    return simple, others


# Each attribute test as a regular expression matching what `_attr_ok` accepts. `~=`: the value as one of the
# tokens that _TOKENS splits out (between the string's ends and space, tab, CR or LF).
_TEST_PATTERNS = {"=": r"\A{}\Z", "^=": r"\A{}", "$=": r"{}\Z", "*=": "{}",
                  "~=": r"(?<![^ \t\n\r]){}(?![^ \t\n\r])"}


def _test_pattern(name: str, op: str, value: str) -> str | None:
    if op == "~=" and _TOKENS(value) != [value]:
        return None  # a value holding a separator is never a token; the pattern could still find it
    return _TEST_PATTERNS[op].format(re.escape(value))


def _alternation(patterns: list[str]) -> re.Pattern | None:
    return re.compile("|".join(patterns)) if patterns else None


@cache
def _xpath_matcher(css: str) -> _XPathMatcher:
    return _XPathMatcher(css)


def _matcher(css: str):
    try:
        selectors = parse(css)
    except SelectorError:
        return _xpath_matcher(css)  # raises the same error parsel would
    if len(selectors) != 1:
        return _xpath_matcher(css)
    sel = selectors[0]
    pseudo, attr = sel.pseudo_element, None
    if isinstance(pseudo, FunctionalPseudoElement):
        if pseudo.name != "attr" or len(pseudo.arguments) != 1:
            return _xpath_matcher(css)
        attr, pseudo = pseudo.arguments[0].value, None
    elif pseudo not in (None, "text"):
        return _xpath_matcher(css)
    parts, combinators, tree = [], [], sel.parsed_tree
    while isinstance(tree, CombinedSelector):
        if tree.combinator not in (" ", ">"):
            return _xpath_matcher(css)
        right = _compound(tree.subselector)
        if right is None:
            return _xpath_matcher(css)
        parts.insert(0, right)
        combinators.insert(0, tree.combinator)
        tree = tree.selector
    first = _compound(tree)
    if first is None:
        return _xpath_matcher(css)
    return _Matcher(css, [first, *parts], combinators, pseudo, attr)


@cache
def compile_css(css: str):
    """The matcher of one selector string, compiled on first use (a few hundred distinct ones at most)."""
    return _matcher(css)
