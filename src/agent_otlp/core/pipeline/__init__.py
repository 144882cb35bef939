"""The export pipeline: intake and trace assembly, destinations with their queues, retries,
breakers, sampling and counters."""
