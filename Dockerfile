# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev toolchain, then drop dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev --ignore-scripts

# Runtime stage: production dependencies only, an init for signals and zombie reaping, non-root.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN ln -s /app/bin/pglock.cjs /usr/local/bin/pglock
USER node
# tini is PID 1: it forwards signals to pglock and reaps zombies; pglock forwards to the child.
ENTRYPOINT ["/usr/bin/tini", "--", "pglock"]
CMD ["--help"]
