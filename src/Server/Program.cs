using IronAuth.Server;

var app = IronAuthServer.Build(IronAuthServer.CreateBuilder(args));
await app.RunAsync();
