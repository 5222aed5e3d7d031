"""The physics simulator: vehicle specs, powertrain and battery physics, drive cycles, the
real-time simulated car and the vectorized fleet engine."""
