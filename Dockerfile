# API and worker image: one image, two commands (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Dev dependencies stay: tsx runs the TypeScript entry points, the worker bundles workflows with swc.
RUN npm ci --include=dev && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
