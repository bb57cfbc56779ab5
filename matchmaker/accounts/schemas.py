"""JSON shapes of the accounts API."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TokenRequest(BaseModel):
    """Credentials exchanged for an API token."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class TokenOut(BaseModel):
    """A new bearer token; it is shown only once."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime | None = None


class MembershipOut(BaseModel):
    """The user's role in one firm."""

    firm_id: int
    role: str


class UserOut(BaseModel):
    """The signed-in user as the API shows it."""

    id: int
    email: str
    full_name: str
    role: str
    language: str
    firms: list[MembershipOut]
