// The API reference page (/api/docs): Swagger UI rendering chat's own
// OpenAPI document. A file rather than an inline script, so the page keeps
// the server's Content-Security-Policy.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/api/v1/openapi.yaml",
    dom_id: "#api",
    deepLinking: true,
    // Requests go to this server with the visitor's own session cookie.
    withCredentials: true,
    // Never send the document to the public validator.
    validatorUrl: null,
  });
});
