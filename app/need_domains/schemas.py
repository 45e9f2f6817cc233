from pydantic import Field

from app.core.schemas import Code, LongText, RequestModel, ResponseModel, ShortText


class NeedDomainCreate(RequestModel):
    code: Code = Field(description="Lowercase snake_case, e.g. `tutoring`.")
    name: ShortText
    description: LongText = ""
    parent: Code | None = None


class NeedDomainRead(ResponseModel):
    code: str
    name: str
    description: str
    parent: str | None
