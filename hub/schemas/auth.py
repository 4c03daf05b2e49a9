"""Logging in and out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginResult(BaseModel):
    token: str
    expires_at: datetime
