"""Kafka side of the pipeline: embedded broker launcher, topics, producer and the relay (issue 11)."""
