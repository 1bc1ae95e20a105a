// Types for ArchitectureTests.TheGraphSeesUsesInsideMethodBodiesAndLambdas: each namespace uses the target in one
// hidden place only.
namespace Compressor.Sdk.Tests.GraphProbe.Target
{
    public static class Probe
    {
        public static int Value => 1;
    }
}

namespace Compressor.Sdk.Tests.GraphProbe.Lambda
{
    public static class UsesInLambda
    {
        public static Func<int> Make() => () => Target.Probe.Value;
    }
}

namespace Compressor.Sdk.Tests.GraphProbe.Body
{
    public static class UsesInBody
    {
        public static int Read()
        {
            int local = Target.Probe.Value;
            return local + 1;
        }
    }
}
