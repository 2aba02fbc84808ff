"""The base class of every settings section: strict, frozen, documented."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings table. Unknown keys are errors; values cannot change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
