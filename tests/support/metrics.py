"""Reading a node's ``GET /metrics`` the way Prometheus does."""
from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


class Scrape:
    """The samples of one exposition, looked up by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[Key, float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                assert key not in self.samples, f"duplicate sample {key}"
                self.samples[key] = sample.value

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` with exactly ``labels``, or None."""
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample called ``name``."""
        return [dict(labels) for sample, labels in self.samples
                if sample == name]

    def nonzero(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        """Every sample called ``name`` whose value is not 0, by labels."""
        return {labels: value for (sample, labels), value
                in self.samples.items() if sample == name and value}


async def scrape(base_url: str, **headers: Any) -> Scrape:
    """GET ``/metrics`` from a node and parse it."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base_url}/metrics", headers=headers) as response:
            assert response.status == 200, response.status
            assert response.content_type == "text/plain"
            return Scrape(await response.text())


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())
