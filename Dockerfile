# One image for the four Docket services; the command picks the service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
COPY examples ./examples
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home docket

USER docket
ENV DOCKET_HOST=0.0.0.0
# APIs 8080-8083; admin ports (/metrics) 9180-9183
EXPOSE 8080 8081 8082 8083 9180 9181 9182 9183
CMD ["docket", "serve", "intake"]
