"""The chaos run (`make chaos`): a cluster under faults, users that record
everything, and a checker that proves nothing was lost or duplicated."""
