using Compressor.Host.Commands;

return CliApp.Run(args, System.Console.Out, System.Console.Error);
