package org.addernet.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The training curves as a PNG (Java2D, headless): train and test loss on the left, train and test accuracy
 * on the right, per epoch. No plotting library: two line charts are a page of code.
 */
public final class TrainingPlot {
    private static final int W = 1000, H = 420, PAD = 56;

    private TrainingPlot() {}

    public static void write(List<Trainer.EpochMetrics> epochs, String title, OutputStream out) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, PAD, 22);
        int n = epochs.size();
        double[] x = new double[n], trL = new double[n], teL = new double[n], trA = new double[n], teA = new double[n];
        for (int i = 0; i < n; i++) {
            Trainer.EpochMetrics m = epochs.get(i);
            x[i] = m.epoch();
            trL[i] = m.trainLoss();
            teL[i] = m.testLoss();
            trA[i] = m.trainAcc();
            teA[i] = m.testAcc();
        }
        double maxLoss = 0;
        for (int i = 0; i < n; i++) maxLoss = Math.max(maxLoss, Math.max(finite(trL[i]), finite(teL[i])));
        int half = W / 2;
        chart(g, 0, "loss", x, new double[][] {trL, teL}, 0, maxLoss > 0 ? maxLoss * 1.05 : 1);
        chart(g, half, "accuracy", x, new double[][] {trA, teA}, 0, 1);
        g.dispose();
        ImageIO.write(img, "png", out);
    }

    private static double finite(double v) {
        return Double.isFinite(v) ? v : 0;
    }

    private static void chart(Graphics2D g, int x0, String name, double[] x, double[][] ys, double lo, double hi) {
        int left = x0 + PAD, right = x0 + W / 2 - 20, top = 40, bottom = H - 50;
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(left, top, right - left, bottom - top);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int t = 0; t <= 4; t++) {
            double v = lo + (hi - lo) * t / 4;
            int py = bottom - (int) Math.round((bottom - top) * (v - lo) / (hi - lo));
            g.setColor(new Color(230, 230, 230));
            g.drawLine(left + 1, py, right - 1, py);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.3g", v), x0 + 8, py + 4);
        }
        double xmin = x.length > 0 ? x[0] : 0, xmax = x.length > 1 ? x[x.length - 1] : xmin + 1;
        g.drawString("epoch " + (int) xmin, left, bottom + 16);
        g.drawString("epoch " + (int) xmax, right - 50, bottom + 16);
        Color[] colors = {new Color(31, 119, 180), new Color(255, 127, 14)};
        String[] labels = {"train " + name, "test " + name};
        for (int s = 0; s < ys.length; s++) {
            g.setColor(colors[s]);
            g.setStroke(new BasicStroke(2f));
            int px = -1, py = -1;
            for (int i = 0; i < x.length; i++) {
                if (!Double.isFinite(ys[s][i])) continue;
                int cx = left + (int) Math.round((right - left) * (x[i] - xmin) / (xmax - xmin));
                int cy = bottom - (int) Math.round((bottom - top) * (Math.min(Math.max(ys[s][i], lo), hi) - lo) / (hi - lo));
                if (px >= 0) g.drawLine(px, py, cx, cy);
                g.fillOval(cx - 3, cy - 3, 6, 6);
                px = cx;
                py = cy;
            }
            g.fillRect(left + 10 + s * 130, bottom + 26, 14, 4);
            g.setColor(Color.BLACK);
            g.drawString(labels[s], left + 28 + s * 130, bottom + 32);
        }
    }
}
