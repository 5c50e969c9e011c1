# The superlite image used by docker-compose.yml: the CLI with the SQL, MongoDB and Celery parts.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e ".[celery,postgresql,mysql,numpy]" -e plugins/mongodb
ENTRYPOINT ["superlite"]
