"""The error envelope: `{"error": {"message", "type", "param", "code"}}` on every failure.

`type` follows seed 003's status table, or the profile's own (`errors.types`: OpenAI sends
invalid_request_error on a 401) when the server emulates a profile that declares one. All four keys are always present (param and code may be
null) because the spec's Error object requires them, even though seed 003's example omits param.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}


class APIError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})
        self.types: Mapping[int, str] = ERROR_TYPES  # the app sets the profile's vocabulary

    @property
    def type(self) -> str:
        return self.types.get(self.status, "api_error" if self.status >= 500 else "invalid_request_error")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid_request(message: str, param: str | None, code: str | None = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)
