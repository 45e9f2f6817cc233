"""A partner's tier per need domain over its accepted records, with the reviewers' final tiers.

Pure, like the classifier. `classifier.roll_up` knows nothing of reviews; here each accepted
record also carries the final tier its reviewer set. The rule for a final tier F on a record
whose computed tier is C:

- F is the record's tier: it sets the tier of the record's strongest need domains (those at C)
  and caps the others (no domain of the record counts stronger than F). So a reviewer who
  lowers a tier lowers it everywhere the record counts, and one who raises it raises only what
  the study is strongest on, never a domain it says little about.
- A domain the record earns no tier in stays untiered: a reviewer's tier cannot attach evidence
  to a need domain the study has no finding for.
- Overriding evidence across the partner's accepted records still applies and wins: where an
  unfavorable finding in another record cancels this record's tier in a domain, the reviewer's
  tier, set on this record alone, does not bring it back.

When F equals C the result is exactly `classifier.roll_up`.
"""

from collections.abc import Sequence

from app.evidence.classifier import (
    DEFAULT_THRESHOLDS,
    Study,
    Thresholds,
    Tier,
    classify,
    classify_together,
)


def _domain_tier(
    alone: Tier | None, together: Tier | None, computed: Tier | None, final: Tier | None
) -> Tier | None:
    if together is None or final is None:
        return None
    if together == alone == computed:
        return final
    return max(together, final)


def partner_tiers(
    records: Sequence[tuple[Study, Tier | None]], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> dict[str, Tier]:
    """Strongest tier per need domain over ``(study, final tier)`` of accepted records."""
    tiers: dict[str, Tier] = {}
    shared = classify_together([study for study, _final in records], thresholds)
    for (study, final), together in zip(records, shared, strict=True):
        alone = classify(study, thresholds)
        for own, crossed in zip(alone.domains, together.domains, strict=True):
            tier = _domain_tier(own.tier, crossed.tier, alone.tier, final)
            if tier is not None:
                tiers[own.need_domain] = min(tier, tiers.get(own.need_domain, tier))
    return tiers
