# rekey worker image. Build: docker build -t <registry>/rekey-worker:0.1.0 . (the version of package.json), push, deploy by digest
# The same steps run in test/e2e/builtWorker.test.ts (no Docker engine there): build dist/,
# install production dependencies alone, run `node dist/workers/main.js`, complete a rotation.
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY contracts ./contracts
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY cli ./cli
COPY scripts/build-worker.ts ./scripts/build-worker.ts
COPY scripts/stack/config.ts ./scripts/stack/config.ts
# compiles TypeScript to dist/ and pre-bundles the workflows (dist/workflow-bundle.js)
RUN npm run build:worker && chmod +x dist/cli/bin.js

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# the operator CLI beside the worker: kubectl exec deploy/rekey-worker -- rekey list (same environment, same codec key)
RUN ln -s /app/dist/cli/bin.js /usr/local/bin/rekey
USER 10001
# V8 heap sized for the fleet (docs/fleet.md): 50 concurrent rotations in ~260 MB RSS instead of
# ~430; rotations take longer under load (more frequent GC). The fleet benchmark runs with the same.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=1"
CMD ["node", "dist/workers/main.js"]
