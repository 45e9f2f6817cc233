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
  tier, set on this record alone, does not bring it back, nor raises a tier 4 the override
  leaves there above it.

When F equals C the result is exactly `classifier.roll_up`.
"""

from collections import Counter
from collections.abc import Sequence

from app.evidence.classifier import (
    DEFAULT_THRESHOLDS,
    Study,
    Thresholds,
    Tier,
    classify,
    classify_together,
    overriding_domains,
)


def _domain_tier(
    alone: Tier | None,
    together: Tier | None,
    computed: Tier | None,
    final: Tier | None,
    overridden_elsewhere: bool,
) -> Tier | None:
    if together is None or final is None:
        return None
    # Overriding evidence leaves a tier 4 as it found it, so an unchanged tier does not
    # show that another record's override reached this domain.
    if together == alone == computed and not overridden_elsewhere:
        return final
    return max(together, final)


def partner_tiers(
    records: Sequence[tuple[Study, Tier | None]], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> dict[str, Tier]:
    """Strongest tier per need domain over ``(study, final tier)`` of accepted records."""
    tiers: dict[str, Tier] = {}
    studies = [study for study, _final in records]
    shared = classify_together(studies, thresholds)
    # How many records hold overriding evidence in each domain: a record's own is before its
    # reviewer, another record's is not.
    holding = Counter(domain for study in studies for domain in overriding_domains([study]))
    for (study, final), together in zip(records, shared, strict=True):
        alone = classify(study, thresholds)
        own_overriding = overriding_domains([study])
        for own, crossed in zip(alone.domains, together.domains, strict=True):
            domain = own.need_domain
            elsewhere = holding[domain] > (domain in own_overriding)
            tier = _domain_tier(own.tier, crossed.tier, alone.tier, final, elsewhere)
            if tier is not None:
                tiers[domain] = min(tier, tiers.get(domain, tier))
    return tiers
