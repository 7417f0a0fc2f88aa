// GraphiQL for ecommerce-api, served from the binary. The schema is fetched with a shallower
// introspection query than GraphiQL's own (whose 15 levels the server's depth limit of 10
// refuses): the server serves it at /graphql/assets/introspection.graphql.
(function () {
  'use strict';
  var endpoint = new URL('/graphql', window.location.href).toString();
  var shallow = fetch('/graphql/assets/introspection.graphql').then(function (r) {
    return r.text();
  });

  function fetcher(params, options) {
    var body = params;
    var ready = Promise.resolve(params);
    var introspection = params && params.operationName === 'IntrospectionQuery';
    if (introspection) {
      ready = shallow.then(function (query) {
        return Object.assign({}, params, { query: query });
      });
    }
    return ready.then(function (request) {
      body = request;
      var headers = Object.assign(
        { 'content-type': 'application/json', accept: 'application/json' },
        (options && options.headers) || {}
      );
      return fetch(endpoint, { method: 'POST', headers: headers, body: JSON.stringify(body) });
    }).then(function (response) {
      return response.json();
    }).then(function (result) {
      if (introspection) {
        // Tells people and tests alike whether the schema arrived.
        document.documentElement.dataset.schema =
          result && result.data && result.data.__schema ? 'loaded' : 'failed';
      }
      return result;
    });
  }

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
