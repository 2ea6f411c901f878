"""Domain errors: one base class with a stable code, shared by every app.

The API turns them into responses (`code`, `detail`, HTTP status); pages and the admin show
`detail`. `status` says which HTTP status the error means at the API boundary.
"""


class DomainError(Exception):
    code = "domain_error"
    status = 409
    default_detail = "The operation is not allowed."

    def __init__(self, detail: str | None = None, *, fields: dict | None = None):
        self.detail = detail or self.default_detail
        self.fields = fields
        super().__init__(self.detail)


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
    default_detail = "The input is not valid."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_detail = "Not found."
