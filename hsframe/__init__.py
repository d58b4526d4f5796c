"""hsframe: HubSpot CRM contacts in pandas DataFrames, written back safely."""
