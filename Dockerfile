# API and worker image: one image, two commands (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --include=dev
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
# Plain JavaScript at run time (the tsx loader costs about 50 MB of RSS per process), and the
# workflow bundle built once here (dist/workflow-bundle.js, used through WORKFLOW_BUNDLE_PATH).
# The CLI (npx sistava) still runs through tsx, a runtime dependency.
# src/dev (the dev stacks, PostgreSQL and Temporal launchers) is neither compiled (tsconfig.build.json
# excludes it) nor shipped: production runs none of it.
RUN npm run build && rm -rf src/dev && npm prune --omit=dev && npm cache clean --force
USER node
EXPOSE 3000
# The API's heap: young generation capped at 2 MB per semi-space (V8's default grows it to 16 MB, 32 MB of
# RSS held from start-up on), and the old generation collected once it grew 50 % past what the last full
# GC left (the default lets in-flight requests' promoted garbage pile up to about 1.8x at concurrency 64).
# npm run serve:api and docker-compose.yml run the same flags; see docs/scaling.md.
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=50", "dist/src/api.js"]
