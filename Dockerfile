# The superlite image used by docker-compose.yml: the CLI with the SQL, MongoDB, Celery and HTTP (serve) parts.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e ".[celery,postgresql,mysql,numpy,serve]" -e plugins/mongodb
ENTRYPOINT ["superlite"]
