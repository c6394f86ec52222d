import { responseSchemas } from "./schemas.js";
import type { Route } from "./routes.js";

/** OpenAPI 3.1 built from the same route table and schemas that validate requests. */
export function buildOpenApi(routes: Route[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    const parameters = [
      ...[...route.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
        name,
        in: "path",
        required: true,
        schema: name === "token" ? { type: "string" } : { type: "integer", minimum: 1 },
      })),
      ...Object.entries((route.querySchema?.properties ?? {}) as Record<string, object>).map(([name, schema]) => ({
        name,
        in: "query",
        required: ((route.querySchema?.required ?? []) as string[]).includes(name),
        schema,
      })),
    ];
    const page = /^Page<(\w+)>$/.exec(route.response);
    const responseSchema = page
      ? { type: "object", properties: { data: { type: "array", items: ref(page[1]!) }, next: { type: ["string", "null"] } }, required: ["data", "next"] }
      : ref(route.response);
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      summary: route.summary,
      parameters,
      ...(route.bodySchema
        ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: route.bodySchema }, "application/x-www-form-urlencoded": { schema: route.bodySchema } },
            },
          }
        : {}),
      responses: {
        [route.status]: route.status === 204 ? { description: "no content" } : { description: "success", content: { "application/json": { schema: responseSchema } } },
        default: { description: "error", content: { "application/json": { schema: ref("Error") } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Chat backend", version: "1" },
    paths,
    components: { schemas: responseSchemas },
  };
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
