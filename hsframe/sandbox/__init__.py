"""A local emulator of HubSpot's CRM contacts API (the sandbox).

It imports nothing from the client side of hsframe, so a bug in the client's codec
cannot hide itself by being mirrored here.
"""
