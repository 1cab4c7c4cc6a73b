"""Simulated automatic weather stations (自动气象站) for the demo: wind, temperature and rain.

SYNTHETIC: the stations and their readings are invented. The wind drifts as a random walk,
so the downwind hazard zone of a simulated chemical leak turns slowly, as a real one would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from incidents.model import Observation
from ingest.field_client import new_id


@dataclass(slots=True)
class WeatherStation:
    """One station and the weather it currently measures."""

    sensor: str
    name: str
    lat: float
    lon: float
    wind_from_deg: float = 20.0
    wind_speed_ms: float = 3.0
    temperature_c: float = 8.0
    rain_mm_h: float = 0.0
    _rng: random.Random = field(default_factory=random.Random)

    def step(self) -> None:
        """Let the weather drift a little."""
        rng = self._rng
        self.wind_from_deg = (self.wind_from_deg + rng.gauss(0, 8)) % 360
        self.wind_speed_ms = min(18.0, max(0.0, self.wind_speed_ms + rng.gauss(0, 0.4)))
        self.temperature_c += rng.gauss(0, 0.1)
        self.rain_mm_h = max(0.0, self.rain_mm_h + rng.gauss(-0.05, 0.3))

    def observations(self, now: datetime) -> list[Observation]:
        """The current readings as feed messages."""
        def reading(quantity: str, value: float, unit: str) -> Observation:
            return Observation(id=new_id(), ts=now, sensor=self.sensor, quantity=quantity,
                               value=round(value, 1), unit=unit, lat=self.lat, lon=self.lon,
                               station=self.name)
        return [reading("wind_direction", self.wind_from_deg, "deg"),
                reading("wind_speed", self.wind_speed_ms, "m/s"),
                reading("temperature", self.temperature_c, "degC"),
                reading("rainfall", self.rain_mm_h, "mm/h")]


def demo_stations(rng: random.Random) -> list[WeatherStation]:
    """Three invented stations: the city, the east, the western hills."""
    return [
        WeatherStation("xt-aws-city", "邢台市区自动站", 37.0682, 114.4906,
                       _rng=random.Random(rng.random())),
        WeatherStation("xt-aws-east", "南和自动站", 37.0050, 114.6900,
                       _rng=random.Random(rng.random())),
        WeatherStation("xt-aws-west", "信都西部山区站", 37.1200, 114.1500,
                       wind_from_deg=300.0, _rng=random.Random(rng.random())),
    ]
