FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml dev.py ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
open('/tmp/requirements.txt', 'w').write('\n'.join(p['dependencies']))" \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY . .
# Static files under hashed names (whitenoise's manifest storage, as debug off serves them),
# collected with throwaway secrets that exist for this step only.
RUN DJANGO_DEBUG=false DJANGO_SECRET_KEY=collectstatic-only PIN_SECRET=collectstatic-only \
    python manage.py collectstatic --no-input -v 0

RUN useradd --system --uid 1000 loyalty \
    && mkdir -p /var/lib/loyalty-metrics && chown loyalty /var/lib/loyalty-metrics
USER loyalty
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
