"""Local Apache Kafka (KRaft) without Docker: jars from Maven, a broker launcher."""
