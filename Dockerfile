# Build stage: compile and bundle the CLI with the dev toolchain; none of it is shipped.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# The build context holds only the sources: .dockerignore lets nothing else through.
COPY . .
RUN npm run build \
 && mkdir -p /out/dist \
 && cp -r package.json bin /out/ \
 && cp dist/pglock.cjs dist/pglock.cache /out/dist/

# Runtime stage: the bundled CLI alone (postgres.js is inside dist/pglock.cjs, so no
# node_modules), tini as PID 1 for signals and zombie reaping, a non-root user.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /app/bin/pglock.cjs /usr/local/bin/pglock
COPY --from=build /out /app
WORKDIR /app
USER node
# tini is PID 1: it forwards signals to pglock and reaps orphaned processes; pglock forwards
# signals to the command.
ENTRYPOINT ["/usr/bin/tini", "--", "pglock"]
CMD ["--help"]
