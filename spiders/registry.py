"""One spider per registry entry, generated from seeds/: `scrapy crawl <key>`."""

from crawler.registry import default_registry
from spiders.news import NewsSpider

for _site in default_registry():
    _cls = type(
        f"{_site.key.title()}Spider",
        (NewsSpider,),
        {"name": _site.key, "site_key": _site.key, "__module__": __name__, "__doc__": f"Crawls {_site.name}."},
    )
    globals()[_cls.__name__] = _cls
del _site, _cls
