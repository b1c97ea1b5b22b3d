"""What a device says about itself when it fetches alerts or posts feedback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """What a device says about itself when it fetches or posts feedback."""

    platform: str
    device_id: str
    app_version: str | None = None
    locale: str | None = None
    page: str | None = None

    def detail(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "deviceId": self.device_id,
            "appVersion": self.app_version,
        }
