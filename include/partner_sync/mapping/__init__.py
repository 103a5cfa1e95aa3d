"""Pure mapping between HubSpot and the partner systems: dict in, dict out, no I/O.

- :mod:`.deals` — partner tags in ``dealname``, HubSpot value converters (dates, amounts).
- :mod:`.microsoft` — seed 000's field and status tables, deal ↔ referral, JSON Patch.
- :mod:`.aws` — deal ↔ ACE opportunity, stage tables, full-replace updates, invitations.
- :mod:`.aws_account` — company/contacts → ACE Customer (industry table, E.164, website).
- :mod:`.geography` — country names → ISO 3166-1 alpha-2.
- :mod:`.ace_rules` — ACE business rules and the HubSpot note that lists every problem.
- :mod:`.properties` — the custom HubSpot deal properties and their group.
"""
