using Xunit.Abstractions;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>ONNX's own operator conformance cases (Debian <c>libonnx-testdata</c> 1.12.0, skipped when absent): the
/// imported single-node models reproduce the reference outputs.</summary>
public sealed class OnnxConformanceTests(ITestOutputHelper output)
{
    /// <summary>Cases for the operators of MiniLM and ResNet18 and the common vision/transformer operators, including
    /// the awkward corners (asymmetric and SAME pads, count_include_pad, negative indices and steps, opset-13 axes
    /// inputs, broadcasting).</summary>
    public static TheoryData<string> Cases => new(
        "test_add", "test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast", "test_pow_bcast_array",
        "test_sqrt", "test_erf", "test_relu", "test_tanh", "test_sigmoid", "test_leakyrelu", "test_hardsigmoid", "test_hardswish",
        "test_selu", "test_elu", "test_softplus", "test_prelu_broadcast", "test_clip", "test_clip_default_min",
        "test_matmul_2d", "test_matmul_3d", "test_matmul_4d", "test_gemm_default_no_bias", "test_gemm_transposeB", "test_gemm_all_attributes",
        "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_autopad_same", "test_basic_conv_with_padding",
        "test_batchnorm_example", "test_batchnorm_epsilon", "test_instancenorm_example", "test_layer_normalization_4d_axis1",
        "test_maxpool_2d_pads", "test_maxpool_2d_same_upper", "test_maxpool_2d_same_lower", "test_maxpool_2d_ceil", "test_maxpool_2d_dilations",
        "test_maxpool_1d_default", "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad", "test_averagepool_2d_same_upper",
        "test_averagepool_2d_precomputed_same_upper", "test_averagepool_2d_ceil", "test_globalaveragepool", "test_globalmaxpool",
        "test_softmax_axis_0", "test_softmax_axis_1", "test_softmax_negative_axis", "test_logsoftmax_axis_1",
        "test_reduce_mean_keepdims_example", "test_reduce_mean_do_not_keepdims_random", "test_reduce_sum_keepdims_random",
        "test_reduce_sum_empty_axes_input_noop_example", "test_reduce_max_negative_axes_keepdims_example", "test_reduce_l2_keep_dims_example",
        "test_argmax_keepdims_example_select_last_index", "test_top_k",
        "test_reshape_reordered_all_dims", "test_reshape_negative_dim", "test_reshape_zero_dim", "test_reshape_allowzero_reordered",
        "test_flatten_axis0", "test_flatten_negative_axis1", "test_squeeze", "test_squeeze_negative_axes", "test_unsqueeze_two_axes",
        "test_unsqueeze_negative_axes", "test_transpose_default", "test_transpose_all_permutations_3",
        "test_concat_2d_axis_negative_1", "test_concat_3d_axis_1", "test_split_equal_parts_1d", "test_split_variable_parts_2d",
        "test_slice", "test_slice_neg_steps", "test_slice_negative_axes", "test_slice_end_out_of_bounds", "test_slice_default_steps",
        "test_gather_0", "test_gather_1", "test_gather_negative_indices", "test_gather_elements_negative_indices",
        "test_shape", "test_shape_start_negative_1", "test_shape_end_1", "test_size",
        "test_expand_dim_changed", "test_expand_dim_unchanged", "test_tile", "test_constantofshape_int_zeros", "test_constantofshape_float_ones",
        "test_constant", "test_range_float_type_positive_delta", "test_range_int32_type_negative_delta", "test_constant_pad", "test_edge_pad",
        "test_reflect_pad", "test_where_example", "test_where_long_example", "test_equal", "test_less", "test_greater_equal", "test_not_2d",
        "test_and_bcast4v3d", "test_cast_FLOAT_to_DOUBLE", "test_cast_FLOAT16_to_FLOAT", "test_castlike_FLOAT_to_DOUBLE",
        "test_identity", "test_dropout_default", "test_einsum_batch_matmul", "test_nonzero_example", "test_mod_mixed_sign_int64",
        "test_div_uint8", "test_mean_example", "test_max_example", "test_sum_example");

    [OnnxTestDataTheory, MemberData(nameof(Cases))]
    public void NodeCaseReproducesReferenceOutputs(string name)
    {
        var failures = OnnxTestData.Check(name);
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    /// <summary>Every one of the 932 cases either reproduces its outputs, or is refused with a one-line
    /// <see cref="CompressException"/> (unsupported operator, attribute, mode or element type): never a wrong answer or
    /// a crash.</summary>
    [OnnxTestDataTheory, InlineData(550)]
    public void EveryNodeCasePassesOrIsRefusedInOneLine(int minimumPassing)
    {
        int pass = 0, refused = 0;
        var wrong = new List<string>();
        var reasons = new Dictionary<string, int>();
        foreach (var dir in Directory.GetDirectories(OnnxTestData.Root).OrderBy(d => d, StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            try
            {
                var failures = OnnxTestData.Check(name);
                if (failures.Count == 0) pass++;
                else wrong.AddRange(failures);
            }
            catch (CompressException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                refused++;
                string reason = e.Message.Contains("unsupported ONNX operator") ? "unsupported operator"
                    : System.Text.RegularExpressions.Regex.Replace(e.Message[(e.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..], "'[^']*'", "'…'");
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
            }
        }
        output.WriteLine($"{pass} passed, {refused} refused, {wrong.Count} wrong");
        foreach (var (reason, count) in reasons.OrderByDescending(kv => kv.Value)) output.WriteLine($"  refused {count}: {reason}");
        Assert.Empty(wrong);
        Assert.True(pass >= minimumPassing, $"{pass} cases passed, expected at least {minimumPassing}");
    }
}
