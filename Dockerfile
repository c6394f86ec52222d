# Two stages: compile TypeScript with every dependency, then ship only the
# production dependencies, the compiled dist/, the SQL migrations and the
# demo page's sources.
# Used by docker-compose.yml for migrate, api1, api2 and worker.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused until they change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ ./src/
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# cli.js looks for migrations in ../sql relative to dist/.
COPY sql/ ./sql/
# The demo page at / is bundled from these sources at startup (esbuild, via tsx).
COPY public/ ./public/
COPY client/ ./client/
# The image's unprivileged "node" user; the app files stay root-owned, read-only to it.
USER node
EXPOSE 3000
CMD ["node", "dist/cli.js", "serve"]
