package org.addernet.layers;

import org.addernet.engine.Tensor;

/** {@code y = max(x, 0)}; the gradient passes where the output is positive (PyTorch's choice at 0: none). */
public final class ReLU implements Layer {
    private Tensor y, dx;

    @Override
    public Tensor forward(Tensor x, boolean training) {
        y = Tensor.reuse(y, x.n, x.c, x.h, x.w);
        forward(x.data, y.data, x.size());
        return y;
    }

    static void forward(float[] x, float[] y, int size) {
        for (int i = 0; i < size; i++) y[i] = Math.max(x[i], 0f);
    }

    @Override
    public Tensor backward(Tensor dy) {
        dx = Tensor.reuse(dx, y.n, y.c, y.h, y.w);
        backward(y.data, dy.data, dx.data, y.size());
        return dx;
    }

    static void backward(float[] y, float[] dy, float[] dx, int size) {
        for (int i = 0; i < size; i++) dx[i] = y[i] > 0f ? dy[i] : 0f;
    }
}
