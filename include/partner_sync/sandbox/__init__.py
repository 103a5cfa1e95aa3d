"""Local emulators of HubSpot, Microsoft Partner Center and AWS Partner Central.

``python -m partner_sync.sandbox serve`` runs all three in one process (see SPEC §2, Sandbox).
"""
