"""fleetcert's local AWS emulator: moto + fidelity patches + a quota/fault layer."""
