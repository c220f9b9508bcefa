package org.addernet.interop;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Writes the {@code data.pkl} of a zip {@code torch.save} of an OrderedDict of tensors, pickle protocol 2, with the
 * opcodes and globals {@code torch.load(weights_only=True)} accepts: each tensor is
 * {@code torch._utils._rebuild_tensor_v2(persistent_id('storage', torch.FloatStorage|LongStorage, '<i>', 'cpu', numel),
 * 0, size, stride, False, OrderedDict())}, storage {@code i} being the i-th tensor in map order.
 */
final class PickleWriter {
    private PickleWriter() {}

    static void stateDict(ByteArrayOutputStream out, Map<String, TorchTensor> tensors) {
        out.write(0x80); // PROTO 2
        out.write(2);
        global(out, "collections", "OrderedDict");
        out.write(')'); // EMPTY_TUPLE
        out.write('R'); // REDUCE
        out.write('('); // MARK
        int i = 0;
        for (Map.Entry<String, TorchTensor> e : tensors.entrySet()) {
            TorchTensor t = e.getValue();
            unicode(out, e.getKey());
            global(out, "torch._utils", "_rebuild_tensor_v2");
            out.write('('); // MARK: the arguments
            out.write('('); // MARK: the persistent id
            unicode(out, "storage");
            global(out, "torch", t.dtype().storageClass);
            unicode(out, Integer.toString(i++));
            unicode(out, "cpu");
            binint(out, Math.toIntExact(t.numel()));
            out.write('t'); // TUPLE
            out.write('Q'); // BINPERSID
            binint(out, 0); // storage offset
            out.write('(');
            for (int s : t.shape()) binint(out, s);
            out.write('t');
            out.write('(');
            for (long s : TorchFiles.contiguousStrides(t.shape())) binint(out, Math.toIntExact(s));
            out.write('t');
            out.write(0x89); // NEWFALSE: requires_grad
            global(out, "collections", "OrderedDict"); // backward_hooks
            out.write(')');
            out.write('R');
            out.write('t');
            out.write('R');
        }
        out.write('u'); // SETITEMS
        out.write('.'); // STOP
    }

    private static void global(ByteArrayOutputStream out, String module, String name) {
        out.write('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void unicode(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.write('X');
        int n = b.length;
        out.write(n);
        out.write(n >>> 8);
        out.write(n >>> 16);
        out.write(n >>> 24);
        out.writeBytes(b);
    }

    private static void binint(ByteArrayOutputStream out, int v) {
        out.write('J');
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
    }
}
