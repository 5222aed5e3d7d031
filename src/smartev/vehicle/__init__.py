"""The car's own software: the VSS signal broker, vehicle services with safety rules, the
KUKSA-compatible gRPC API and the feeders that bring values in."""
