# The pgcube service image (used by compose.yaml). PostgreSQL runs elsewhere:
# set PGCUBE_DATABASE_URL.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY sql ./sql
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system --home /app pgcube
USER pgcube
EXPOSE 8000
CMD ["pgcube", "serve"]
