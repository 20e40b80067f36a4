// Swagger UI on /api/v1/docs, reading the OpenAPI document generated from the code.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
  });
})();
