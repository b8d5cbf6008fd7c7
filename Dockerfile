# lead2loyalty in one image: the wheel installed for a non-root user, the Procfile's three
# processes as commands, a project folder (lead2loyalty init) in /app to mount yours over.
#
#   docker build -t lead2loyalty .
#   docker run -d --env-file .env -v l2l-data:/data -p 8000:8000 lead2loyalty                 # web
#   docker run -d --env-file .env -v l2l-data:/data lead2loyalty lead2loyalty worker          # worker
#   docker run -d --env-file .env -v l2l-data:/data lead2loyalty lead2loyalty clock           # clock
#   docker run --rm lead2loyalty lead2loyalty demo                                            # try it
#
# The three share the SQLite file on the l2l-data volume, so they run on one host, with the
# volume on a lasting disk (it holds the loyalty ledger). Your own project folder
# (`lead2loyalty init`, edited): -v "$PWD/mappings:/app/mappings" -v "$PWD/models:/app/models".

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md Procfile .env.example ./
COPY connector ./connector
COPY localorg ./localorg
COPY mappings ./mappings
COPY models ./models
COPY salesforce ./salesforce
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    L2L_DATABASE=/data/lead2loyalty.sqlite
RUN groupadd --gid 10001 l2l \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin l2l \
    && mkdir /app /data \
    && chown 10001:10001 /app /data
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
# l2l, by number so the host and Kubernetes' runAsNonRoot can tell it is not root.
USER 10001:10001
WORKDIR /app
RUN lead2loyalty init /app
VOLUME ["/data"]
EXPOSE 8000
# web: gunicorn on $PORT (the Procfile's web line, settings checked first). The worker and the
# clock run the same image with `lead2loyalty worker` and `lead2loyalty clock` as the command.
CMD ["lead2loyalty", "web"]
