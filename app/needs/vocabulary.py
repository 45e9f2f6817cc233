"""Vocabulary of needs profiles that the pure matching engine shares with the API."""

from enum import StrEnum


class FundingSource(StrEnum):
    # ESEA section 1003 school-improvement funds admit only evidence tiers 1 to 3.
    TITLE_I_1003 = "title_i_1003"
    OTHER = "other"
