# rekey worker image. Build: docker build -t rekey-worker:0.1.0 .
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY scripts/stack/config.ts scripts/stack/connect.ts scripts/stack/kafka.ts scripts/stack/proc.ts scripts/stack/service.ts ./scripts/stack/
USER 10001
CMD ["node", "--import", "tsx", "workers/main.ts"]
