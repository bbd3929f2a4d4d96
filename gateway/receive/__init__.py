"""Raw bytes -> Events, pure: signature checks on the raw body, then one adapter per source kind."""
