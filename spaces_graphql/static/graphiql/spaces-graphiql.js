// Starts GraphiQL on the facade's own /graphql page. Everything it loads comes from
// /graphiql-assets/ (vendored bundles, see README.md here); nothing from a CDN.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var endpoint = new URL(config.endpoint, window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // Queries and mutations go over HTTP with the headers editor's headers; a
  // subscription opens a graphql-transport-ws connection at the same URL whose
  // connection_init payload carries those headers too (the facade reads
  // {"Authorization": "Bearer …"} there, since browsers cannot set headers on a
  // WebSocket upgrade).
  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });

  var props = {
    fetcher: fetcher,
    query: config.query,
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: config.headers ? "headers" : false,
  };
  if (config.headers) {
    props.headers = JSON.stringify(JSON.parse(config.headers), null, 2);
  }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, props)
  );
})();
