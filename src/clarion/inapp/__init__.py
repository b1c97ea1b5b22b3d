"""The in-app channel's service side: signed feedback, device authentication, the
payload contract as a schema, and localization coverage for screenshot QC.

Assembling the payload itself is pure and lives in ``clarion.core.payload``.
"""

from clarion.inapp.device_auth import (
    DeviceAuthenticator,
    DeviceAuthError,
    DeviceIdentity,
    issue_device_token,
)
from clarion.inapp.feedback import FeedbackRejected, FeedbackSigner

__all__ = [
    "DeviceAuthError",
    "DeviceAuthenticator",
    "DeviceIdentity",
    "FeedbackRejected",
    "FeedbackSigner",
    "issue_device_token",
]
