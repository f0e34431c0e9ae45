"""simulation: replay past weeks under several ordering policies and compare them in money and fill rate.

The pure core is `replay(data, config) -> ReplayResult` (frames and dataclasses in,
frames out; no database, no clock). `simulation.services.load_replay_data` reads
the stored business into a `ReplayData`; `simulation.report` writes the tables,
CSV, JSON and plots.
"""

from simulation.data import (
    AgreementSpec,
    CategoryInfo,
    ReplayConfig,
    ReplayData,
    SeasonSpec,
)
from simulation.policies import POLICIES, Policy, policy_names
from simulation.replay import ReplayResult, replay

__all__ = [
    "POLICIES",
    "AgreementSpec",
    "CategoryInfo",
    "Policy",
    "ReplayConfig",
    "ReplayData",
    "ReplayResult",
    "SeasonSpec",
    "policy_names",
    "replay",
]
